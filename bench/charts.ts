/**
 * Bar charts for docs/BENCHMARKS.md: drawn as SVG by hand and rendered to PNG with @resvg/resvg-js
 * using the DejaVu Sans file of the `dejavu-fonts-ttf` devDependency (no system fonts, no browser).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';

export interface Bar {
  label: string;
  value: number;
  /** Fill colour; default durasync blue. */
  color?: string;
}

/** One panel: its own title, unit and scale (figures of different units never share an axis). */
export interface Panel {
  title: string;
  unit: string;
  bars: Bar[];
}

export const COLORS = { durasync: '#2563eb', floor: '#9ca3af', other: '#f59e0b', p99: '#1e3a8a' } as const;

const WIDTH = 960;
const LABEL_W = 230;
const VALUE_W = 110;
const BAR_H = 24;
const GAP = 8;
const PANEL_HEAD = 34;
const PANEL_GAP = 18;
const MARGIN = 20;

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function formatValue(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 10) return value.toFixed(1).replace(/\.0$/, '');
  return value.toFixed(2).replace(/\.?0+$/, '');
}

/** The SVG of a titled stack of panels, and its size in pixels. */
export function barChartSvg(title: string, subtitle: string, panels: Panel[]): { svg: string; width: number; height: number } {
  const parts: string[] = [];
  let y = MARGIN;
  parts.push(`<text x="${MARGIN}" y="${y + 20}" font-size="22" font-weight="bold">${escapeXml(title)}</text>`);
  parts.push(`<text x="${MARGIN}" y="${y + 44}" font-size="13" fill="#4b5563">${escapeXml(subtitle)}</text>`);
  y += 60;
  const plotW = WIDTH - 2 * MARGIN - LABEL_W - VALUE_W;
  for (const panel of panels) {
    parts.push(`<text x="${MARGIN}" y="${y + 20}" font-size="15" font-weight="bold">${escapeXml(panel.title)}<tspan font-weight="normal" fill="#4b5563">&#160;(${escapeXml(panel.unit)})</tspan></text>`);
    y += PANEL_HEAD;
    const max = Math.max(...panel.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)), 1e-9);
    for (const bar of panel.bars) {
      const w = Number.isFinite(bar.value) && bar.value > 0 ? Math.max(1, (bar.value / max) * plotW) : 0;
      const x0 = MARGIN + LABEL_W;
      parts.push(`<text x="${x0 - 10}" y="${y + BAR_H / 2 + 5}" font-size="13" text-anchor="end">${escapeXml(bar.label)}</text>`);
      parts.push(`<rect x="${x0}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" rx="3" fill="${bar.color ?? COLORS.durasync}"/>`);
      parts.push(`<text x="${(x0 + w + 8).toFixed(1)}" y="${y + BAR_H / 2 + 5}" font-size="13">${escapeXml(formatValue(bar.value))}</text>`);
      y += BAR_H + GAP;
    }
    y += PANEL_GAP;
  }
  const height = Math.ceil(y + MARGIN - PANEL_GAP);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans"><rect width="100%" height="100%" fill="#ffffff"/>${parts.join('')}</svg>`;
  return { svg, width: WIDTH, height };
}

/** Renders `svg` to a PNG file with the bundled DejaVu Sans; returns the PNG's size. */
export async function writePng(file: string, svg: string): Promise<{ width: number; height: number }> {
  const fontFile = path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf', 'DejaVuSans.ttf');
  const boldFile = path.join(path.dirname(fontFile), 'DejaVuSans-Bold.ttf');
  const resvg = new Resvg(svg, { font: { loadSystemFonts: false, fontFiles: [fontFile, boldFile], defaultFontFamily: 'DejaVu Sans' }, background: '#ffffff' });
  const image = resvg.render();
  await writeFile(file, image.asPng());
  return { width: image.width, height: image.height };
}
