export { startDriveEmulator } from './server';
export type { DriveEmulator, DriveEmulatorOptions } from './server';
export type { CallRecord, DriveInspect, DriveSeed } from './seed';
export type { FaultSettings, Faults } from './faults';
export type { FileResource } from './store';
export type { OAuthClient } from './authorize';
export type { DriveUser } from './about';
