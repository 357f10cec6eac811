// `faye-online migrate up|down|status|adopt`: the gem's migrations, recorded in
// Rails' schema_migrations so that Rails and this package agree.
import type { Sequelize } from 'sequelize';
import { describeDatabase, openDatabase } from '../records/database';
import { adoptSchema, ensureMigrated, migrate, migrationStatus, type MigrationEvent } from '../schema';
import { isFayeOnlineError } from '../errors';
import { dbTimeoutMs, EXIT_OK, EXIT_USAGE, readCommandLine, type Command } from './command';

const help = `Usage: faye-online migrate <up|down|status|adopt> [--url DATABASE_URL] [--all]

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
  -h, --help  show this help

Which migrations ran is recorded in Rails' schema_migrations table: a database
where Rails already ran the gem's migrations is up to date, and after \`up\`,
\`rake db:migrate\` has nothing left to do.`;

type Action = 'up' | 'down' | 'status' | 'adopt';
const ACTIONS: readonly Action[] = ['up', 'down', 'status', 'adopt'];

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'create, revert or inspect the faye-online tables (up|down|status|adopt)',
  help,
  async run(args, io) {
    const parsed = readCommandLine<{ url?: string; all?: boolean }>({ name: 'migrate', help }, args, { url: { type: 'string' }, all: { type: 'boolean' } }, io, 1);
    if (typeof parsed === 'number') return parsed;
    const { values, positionals } = parsed;
    const action = positionals[0] as Action | undefined;
    if (!action || !ACTIONS.includes(action) || positionals.length > 1) {
      io.err(`faye-online migrate: expected one of ${ACTIONS.join(', ')}${action ? `, got "${positionals.join(' ')}"` : ''} (see faye-online migrate --help)`);
      return EXIT_USAGE;
    }
    if (values.all && action !== 'down') {
      io.err('faye-online migrate: --all only goes with down');
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
      switch (action) {
        case 'up': {
          const { names, durationMs } = await migrate(sequelize, 'up', { onEvent: (e) => io.out(eventLine(e)) });
          io.out(names.length > 0
            ? `${plural(names.length, 'migration')} applied in ${seconds(durationMs, 1)}`
            : `Nothing to do: database is up to date (${await appliedCount(sequelize)} applied)`);
          return EXIT_OK;
        }
        case 'down': {
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
