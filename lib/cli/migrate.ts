// `faye-online migrate up|down|status|adopt`: the gem's migrations, recorded in
// Rails' schema_migrations so that Rails and this package agree.
import { QueryTypes, type Sequelize } from 'sequelize';
import { migrations, optionalMigrations } from '../../migrations';
import { existingTables } from '../schema/layout';
import { describeDatabase, openDatabase } from '../records/database';
import { adoptSchema, ensureMigrated, migrate, migrationStatus, type MigrationEvent } from '../schema';
import { isFayeOnlineError } from '../errors';
import { dbTimeoutMs, waitingForDatabase, withProgress, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, readCommandLine, type Command } from './command';

const help = `Usage: faye-online migrate <up|down|status|adopt> [--url DATABASE_URL] [--all] [--yes] [--widen-online-times]

  up      apply every pending migration
  down    revert the last applied migration (--all: revert them all)
  status  list the migrations and whether each is applied
  adopt   record tables that already exist (created by hand, by a schema
          load or by a newer Rails) as migrated, after checking both sides can
          use them. Accepted and listed: another engine, utf8mb4 or another
          UTF-8 collation, wider integer/text/varchar types, datetime(6), extra
          columns that are nullable or have a default, renamed or missing plain
          indexes. Refused: missing columns, narrower types, a NOT NULL column
          nobody fills, a missing unique index, another lock_version default

Options:
  --url URL   mysql://user:pass@host:3306/db, mariadb://..., sqlite:/abs/path.sqlite
              (default: the DATABASE_URL environment variable)
  --all       with down: revert every applied migration
  --widen-online-times
              with up: also run the optional migration that widens
              faye_user_online_times.online_times to MEDIUMTEXT (the gem's TEXT
              is full at about 730 time channels per user; Rails reads both alike)
  --yes       with down: drop the gem's tables even when they hold rows (without
              it, down lists what it would drop and refuses: on a database shared
              with Rails those rows are the app's login history and online times)
  -h, --help  show this help

Which migrations ran is recorded in Rails' schema_migrations table: on a
database where Rails already ran the gem's migrations only ours (engaged time,
events, webhooks) are pending, and after \`up\`, \`rake db:migrate\` has nothing left to do.`;

type Action = 'up' | 'down' | 'status' | 'adopt';
const ACTIONS: readonly Action[] = ['up', 'down', 'status', 'adopt'];

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'create, revert or inspect the faye-online tables (up|down|status|adopt)',
  help,
  async run(args, io) {
    const parsed = readCommandLine<{ url?: string; all?: boolean; yes?: boolean; 'widen-online-times'?: boolean }>(
      { name: 'migrate', help }, args,
      { url: { type: 'string' }, all: { type: 'boolean' }, yes: { type: 'boolean' }, 'widen-online-times': { type: 'boolean' } }, io, 1);
    if (typeof parsed === 'number') return parsed;
    const { values, positionals } = parsed;
    const action = positionals[0] as Action | undefined;
    if (!action || !ACTIONS.includes(action) || positionals.length > 1) {
      io.err(`faye-online migrate: expected one of ${ACTIONS.join(', ')}${action ? `, got "${positionals.join(' ')}"` : ''} (see faye-online migrate --help)`);
      return EXIT_USAGE;
    }
    if ((values.all || values.yes) && action !== 'down') {
      io.err(`faye-online migrate: ${values.all ? '--all' : '--yes'} only goes with down (see faye-online migrate --help)`);
      return EXIT_USAGE;
    }
    if (values['widen-online-times'] && action !== 'up') {
      io.err('faye-online migrate: --widen-online-times only goes with up (see faye-online migrate --help)');
      return EXIT_USAGE;
    }
    const url = values.url ?? io.env.DATABASE_URL;
    if (!url) {
      io.err('faye-online migrate: no database given; pass --url mysql://user:pass@host:3306/db (or sqlite:/path.sqlite) or set DATABASE_URL');
      return EXIT_USAGE;
    }
    const sequelize = openDatabase(url, { connectTimeoutMs: dbTimeoutMs(io.env) });
    try {
      io.out(`Database: ${describeDatabase(sequelize)}`);
      await withProgress(io.err, waitingForDatabase(describeDatabase(sequelize), dbTimeoutMs(io.env)), migrationStatus(sequelize));
      switch (action) {
        case 'up': {
          const optional = values['widen-online-times'] ? ['widen-online-times' as const] : [];
          const { names, durationMs } = await migrate(sequelize, 'up', { optional, onEvent: (e) => io.out(eventLine(e)) });
          io.out(names.length > 0
            ? `${plural(names.length, 'migration')} applied in ${seconds(durationMs, 1)}`
            : `Nothing to do: database is up to date (${await appliedCount(sequelize)} applied)`);
          return EXIT_OK;
        }
        case 'down': {
          const drops = await plannedDrops(sequelize, Boolean(values.all));
          if (drops.length > 0) io.out(`Reverting drops ${drops.map((d) => `${d.table} (${plural(d.rows, 'row')}${d.gem ? ', the gem\'s' : ''})`).join(', ')}`);
          const live = drops.filter((d) => d.gem && d.rows > 0);
          if (live.length > 0 && !values.yes) {
            io.err(`faye-online migrate: refusing to drop the gem's tables that hold rows (${live.map((d) => `${d.table}: ${plural(d.rows, 'row')}`).join(', ')}); ` +
              'on a shared database they are the Rails app\'s data too. Nothing was changed; pass --yes to drop them anyway');
            return EXIT_FAILURE;
          }
          const { names, durationMs } = await migrate(sequelize, 'down', { all: values.all, onEvent: (e) => io.out(eventLine(e)) });
          io.out(names.length > 0 ? `${plural(names.length, 'migration')} reverted in ${seconds(durationMs, 1)}` : 'Nothing to do: no migration is applied');
          return EXIT_OK;
        }
        case 'status': {
          const states = await migrationStatus(sequelize);
          for (const s of states) io.out(`${s.applied ? 'up  ' : 'down'}  ${s.version}  ${s.name.slice(s.version.length + 1)}`);
          const pending = states.filter((s) => !s.applied).length;
          const untracked = await untrackedNote(sequelize);
          if (untracked) io.out(untracked);
          io.out(pending === 0
            ? `Up to date: ${states.length} applied`
            : `${states.length - pending} applied, ${pending} pending: run \`faye-online migrate ${untracked ? 'adopt' : 'up'}\``);
          return EXIT_OK;
        }
        case 'adopt': {
          const { adopted, differences, pending } = await adoptSchema(sequelize);
          for (const name of adopted) io.out(`== ${title(name)}: adopted (layout verified)`);
          if (differences.length > 0) {
            io.out(`Accepted ${plural(differences.length, 'difference')} from the gem's layout (ActiveRecord and faye-online treat them the same):`);
            for (const difference of differences) io.out(`  ${difference}`);
          }
          const done = adopted.length > 0 ? `${plural(adopted.length, 'migration')} adopted` : 'Nothing to adopt';
          io.out(pending.length > 0 ? `${done}; ${pending.length} still pending: run \`faye-online migrate up\`` : `${done}; database is up to date`);
          return EXIT_OK;
        }
      }
    } finally {
      await sequelize.close();
    }
  },
};

interface PlannedDrop {
  table: string;
  rows: number;
  /** One of the gem's tables (a Rails app may use it), not one of ours. */
  gem: boolean;
}

/** The tables `down` (or `down --all`) would drop, with their row counts, newest migration first. */
async function plannedDrops(sequelize: Sequelize, all: boolean): Promise<PlannedDrop[]> {
  const applied = (await migrationStatus(sequelize)).filter((s) => s.applied).reverse();
  const reverting = all ? applied : applied.slice(0, 1);
  const drops: PlannedDrop[] = [];
  for (const state of reverting) {
    const migration = [...migrations, ...optionalMigrations].find((m) => m.name === state.name)!;
    for (const table of await existingTables(sequelize, migration.tables)) {
      const [{ n }] = await sequelize.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table}`, { type: QueryTypes.SELECT });
      drops.push({ table, rows: Number(n), gem: migration.feature === undefined });
    }
  }
  return drops;
}

async function appliedCount(sequelize: Sequelize): Promise<number> {
  return (await migrationStatus(sequelize)).filter((s) => s.applied).length;
}

async function untrackedNote(sequelize: Sequelize): Promise<string | null> {
  try {
    await ensureMigrated(sequelize);
    return null;
  } catch (error) {
    if (isFayeOnlineError(error, 'SCHEMA_UNTRACKED')) return `Note: ${error.message}`;
    if (isFayeOnlineError(error, 'SCHEMA_NOT_MIGRATED')) return null;
    throw error;
  }
}

function eventLine(event: MigrationEvent): string {
  return 'durationMs' in event ? `== ${title(event.name)}: ${event.type} (${seconds(event.durationMs, 2)})` : `== ${title(event.name)}: ${event.type}`;
}

/** `20130326113504_faye_create_user_list` → `20130326113504 faye_create_user_list`, as Rails prints it. */
function title(name: string): string {
  return name.replace('_', ' ');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function seconds(ms: number, digits: number): string {
  return `${(ms / 1000).toFixed(digits)} s`;
}
