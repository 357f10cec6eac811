export { migrate, migrationStatus, ensureMigrated, adoptSchema } from './migrator';
export type { MigrationState, MigrationEvent, MigrateOptions, MigrateResult, AdoptResult } from './migrator';
export { EXPECTED_LAYOUT, readLayout, compareLayout } from './layout';
export type { TableLayout, ColumnLayout, IndexLayout } from './layout';
export { RailsSchemaMigrations } from './rails-storage';
