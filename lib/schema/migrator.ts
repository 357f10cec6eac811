// Running the gem's migrations with umzug, recorded in Rails' schema_migrations,
// and the startup check that the schema is up to date.
//
// The one dangerous case is a database whose tables exist but whose
// schema_migrations does not say so (tables created by hand, or a schema.rb
// load without versions): running the migrations would fail half-way, and
// recording them blindly could hide a different layout. So `up` refuses
// (SCHEMA_UNTRACKED) and `adopt` records them only after checking the layout.
import type { Sequelize } from 'sequelize';
import { Umzug } from 'umzug';
import { migrations, optionalMigrations } from '../../migrations';
import { FayeOnlineError } from '../errors';
import { toDatabaseError } from '../records/database';
import { isMysql, versionOf, type LegacyMigration, type MigrationContext, type OptionalMigration } from './ddl';
import { compareLayout, existingTables, expectedTable, readLayout } from './layout';
import { RailsSchemaMigrations } from './rails-storage';

export interface MigrationState {
  /** `<version>_<name>`, e.g. `20130326113504_faye_create_user_list`. */
  name: string;
  version: string;
  applied: boolean;
  /** Our own migrations name the feature that needs them (see LegacyMigration.feature); the gem's have none. */
  feature?: LegacyMigration['feature'];
}

export type MigrationEvent =
  | { type: 'migrating' | 'reverting'; name: string }
  | { type: 'migrated' | 'reverted'; name: string; durationMs: number };

export interface MigrateOptions {
  /** Called as each migration starts and ends (the CLI prints these). */
  onEvent?: (event: MigrationEvent) => void;
  /** down only: revert every applied migration instead of the last one. */
  all?: boolean;
  /** up only: also run these optional migrations (e.g. 'widen-online-times'). */
  optional?: readonly OptionalMigration[];
}

export interface MigrateResult {
  /** Names of the migrations run (applied for up, reverted for down), in order. */
  names: string[];
  durationMs: number;
}

export interface AdoptResult {
  /** Migrations whose tables were found with a layout both sides can use and are now recorded. */
  adopted: string[];
  /** Differences from the gem's layout that were accepted (ActiveRecord and this package treat them the same), as sentences. */
  differences: string[];
  /** Migrations still pending because none of their tables exist (`migrate up` creates them). */
  pending: string[];
}

const UP_HINT = 'run `npx faye-online migrate up` (with --url or DATABASE_URL)';

/** Applied/pending state of every migration, oldest first. */
export async function migrationStatus(sequelize: Sequelize): Promise<MigrationState[]> {
  return withDatabaseErrors(sequelize, async () => {
    const applied = new Set(await storageFor(sequelize).executed());
    return [...migrations, ...optionalMigrations.filter((m) => applied.has(m.name))]
      .map(({ name, feature }) => ({ name, version: versionOf(name), applied: applied.has(name), ...(feature ? { feature } : {}) }));
  });
}

/**
 * `up` applies every pending migration; `down` reverts the last applied one
 * (or all with `{ all: true }`). `up` refuses with SCHEMA_UNTRACKED when a
 * pending migration's tables already exist.
 */
export async function migrate(sequelize: Sequelize, direction: 'up' | 'down', options: MigrateOptions = {}): Promise<MigrateResult> {
  return withDatabaseErrors(sequelize, async () => {
    const started = Date.now();
    if (direction === 'up') await refuseUntracked(sequelize);
    const applied = new Set(await storageFor(sequelize).executed());
    const wanted = new Set(direction === 'up' ? options.optional ?? [] : []);
    const optional = optionalMigrations.filter((m) => applied.has(m.name) || (m.optional !== undefined && wanted.has(m.optional)));
    const umzug = createUmzug(sequelize, [...migrations, ...optional]);
    const began = new Map<string, number>();
    umzug.on('migrating', ({ name }) => { began.set(name, Date.now()); options.onEvent?.({ type: 'migrating', name }); });
    umzug.on('reverting', ({ name }) => { began.set(name, Date.now()); options.onEvent?.({ type: 'reverting', name }); });
    umzug.on('migrated', ({ name }) => options.onEvent?.({ type: 'migrated', name, durationMs: Date.now() - (began.get(name) ?? started) }));
    umzug.on('reverted', ({ name }) => options.onEvent?.({ type: 'reverted', name, durationMs: Date.now() - (began.get(name) ?? started) }));
    try {
      const ran = direction === 'up' ? await umzug.up() : await umzug.down(options.all ? { to: 0 } : {});
      return { names: ran.map((m) => m.name), durationMs: Date.now() - started };
    } catch (error) {
      // umzug wraps the failure in a MigrationError; the cause is what matters.
      throw (error as Error).name === 'MigrationError' && (error as Error).cause ? (error as Error).cause : error;
    }
  });
}

/** Features whose own migrations the startup check requires (each on unless false). */
export interface EnsureMigratedOptions {
  engagement?: boolean;
  events?: boolean;
  webhooks?: boolean;
}

/** Whether the startup check needs a migration: the gem's always, engaged time unless off, events and webhooks only when on. */
function isNeeded(migration: LegacyMigration, features: EnsureMigratedOptions): boolean {
  if (migration.feature === undefined) return true;
  if (migration.feature === 'events' || migration.feature === 'webhooks') return features[migration.feature] === true;
  return features[migration.feature] !== false;
}

/**
 * The startup check: resolves when every migration is recorded, else throws
 * SCHEMA_NOT_MIGRATED or SCHEMA_UNTRACKED saying what to run; connection
 * failures come as DATABASE_UNREACHABLE / DATABASE_AUTH / DATABASE_URL.
 */
export async function ensureMigrated(sequelize: Sequelize, features: EnsureMigratedOptions = {}): Promise<void> {
  const needed = new Set(migrations.filter((m) => isNeeded(m, features)).map((m) => m.name));
  return withDatabaseErrors(sequelize, async () => {
    await refuseUntracked(sequelize);
    const pending = (await migrationStatus(sequelize)).filter((m) => !m.applied);
    if (pending.some((m) => needed.has(m.name))) {
      // Every pending one is named, not only the required ones: `migrate up` applies them all.
      throw new FayeOnlineError('SCHEMA_NOT_MIGRATED', `the faye-online tables are not migrated (pending: ${pending.map((m) => m.version).join(', ')}); ${UP_HINT}`);
    }
  });
}

/**
 * Records in schema_migrations the migrations whose tables already exist, after
 * checking that both the gem and this package can use them: differences that
 * ActiveRecord treats the same (utf8mb4, wider types, extra nullable columns...)
 * are accepted and reported; any that would break one side throws
 * SCHEMA_MISMATCH naming each of them (and records nothing).
 */
export async function adoptSchema(sequelize: Sequelize): Promise<AdoptResult> {
  return withDatabaseErrors(sequelize, async () => {
    const storage = storageFor(sequelize);
    const applied = new Set(await storage.executed());
    const adoptable: LegacyMigration[] = [];
    const pending: string[] = [];
    const refused: string[] = [];
    const differences: string[] = [];
    for (const migration of migrations.filter((m) => !applied.has(m.name))) {
      if ((await existingTables(sequelize, migration.tables)).length === 0) {
        pending.push(migration.name);
        continue;
      }
      const actual = await readLayout(sequelize, migration.tables);
      for (const table of migration.tables) {
        const comparison = compareLayout(expectedTable(table), actual.find((t) => t.name === table), isMysql(sequelize) ? 'mysql' : 'sqlite');
        refused.push(...comparison.refused);
        differences.push(...comparison.accepted);
      }
      adoptable.push(migration);
    }
    if (refused.length > 0) {
      throw new FayeOnlineError('SCHEMA_MISMATCH',
        `the existing tables cannot be used as they are, nothing was recorded: ${refused.join('; ')}. ` +
        'Change those columns or indexes (e.g. with a Rails migration) and run adopt again; `faye-online migrate adopt --help` says what is accepted');
    }
    for (const migration of adoptable) await storage.logMigration({ name: migration.name });
    return { adopted: adoptable.map((m) => m.name), differences, pending };
  });
}

function storageFor(sequelize: Sequelize): RailsSchemaMigrations {
  return new RailsSchemaMigrations(sequelize, [...migrations, ...optionalMigrations].map((m) => m.name));
}

function createUmzug(sequelize: Sequelize, list: readonly LegacyMigration[]): Umzug<MigrationContext> {
  return new Umzug<MigrationContext>({
    migrations: list.map((m) => ({ name: m.name, up: m.up, down: m.down })),
    context: { sequelize },
    storage: storageFor(sequelize),
    logger: undefined,
  });
}

async function refuseUntracked(sequelize: Sequelize): Promise<void> {
  const applied = new Set(await storageFor(sequelize).executed());
  for (const migration of migrations.filter((m) => !applied.has(m.name))) {
    const present = await existingTables(sequelize, migration.tables);
    if (present.length > 0) {
      throw new FayeOnlineError('SCHEMA_UNTRACKED',
        `table${present.length > 1 ? 's' : ''} ${present.join(', ')} already exist${present.length > 1 ? '' : 's'} but schema_migrations does not record version ${versionOf(migration.name)}; ` +
        'if they are the faye-online tables (created by hand or by a schema load), run `npx faye-online migrate adopt`, which checks their layout and records them');
    }
  }
}

async function withDatabaseErrors<T>(sequelize: Sequelize, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toDatabaseError(error, sequelize);
  }
}
