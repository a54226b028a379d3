/** GitHub's REST error bodies: `{ message, documentation_url, status }`, plus `errors` on 422s. */

export const DOCS = {
  root: 'https://docs.github.com/rest',
  repos: 'https://docs.github.com/rest/repos/repos#get-a-repository',
  refs: 'https://docs.github.com/rest/git/refs',
  updateRef: 'https://docs.github.com/rest/git/refs#update-a-reference',
  createRef: 'https://docs.github.com/rest/git/refs#create-a-reference',
  commits: 'https://docs.github.com/rest/git/commits',
  trees: 'https://docs.github.com/rest/git/trees',
  blobs: 'https://docs.github.com/rest/git/blobs',
  contents: 'https://docs.github.com/rest/repos/contents#get-repository-content',
  compare: 'https://docs.github.com/rest/commits/commits#compare-two-commits',
  listCommits: 'https://docs.github.com/rest/commits/commits#list-commits',
  hooks: 'https://docs.github.com/rest/repos/webhooks',
  issues: 'https://docs.github.com/rest/issues/issues',
  orgEvents: 'https://docs.github.com/rest/activity/events#list-public-organization-events',
  /** What GitHub's 422 past a feed's pagination limit links to. */
  pagination: 'https://docs.github.com/v3/#pagination',
  rateLimit: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
  secondaryRateLimit: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
} as const;

export interface ValidationErrorItem {
  resource: string;
  field: string;
  code: 'missing' | 'missing_field' | 'invalid' | 'already_exists' | 'unprocessable' | 'custom';
  message?: string;
}

/** A failure answered with GitHub's error body and status. */
export class GithubApiError extends Error {
  override readonly name = 'GithubApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly documentationUrl: string,
    readonly errors?: ValidationErrorItem[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body(): Record<string, unknown> {
    return {
      message: this.message,
      ...(this.errors ? { errors: this.errors } : {}),
      documentation_url: this.documentationUrl,
      status: String(this.status),
    };
  }
}

export const notFound = (doc: string = DOCS.root): GithubApiError => new GithubApiError(404, 'Not Found', doc);

export const unprocessable = (message: string, doc: string, errors?: ValidationErrorItem[]): GithubApiError =>
  new GithubApiError(422, message, doc, errors);

export const validationFailed = (doc: string, ...errors: ValidationErrorItem[]): GithubApiError =>
  new GithubApiError(422, 'Validation Failed', doc, errors);

export const badRequest = (message: string, doc: string = DOCS.root): GithubApiError => new GithubApiError(400, message, doc);
