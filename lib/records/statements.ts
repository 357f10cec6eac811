// Counting the SQL statements a Sequelize instance runs, so tests can prove how
// much database work one Bayeux message costs. Built on Sequelize's
// afterQuery hook, which sees every statement sent through sequelize.query
// (models included) but not the driver's own connection setup.
import type { Sequelize } from 'sequelize';

export interface StatementCounter {
  /** Statements run since the counter started or was last reset. */
  readonly count: number;
  /** Their SQL text, in order. */
  readonly statements: readonly string[];
  reset(): void;
  /** Detaches the counter from the Sequelize instance. */
  stop(): void;
}

let counters = 0;

export function countStatements(sequelize: Sequelize): StatementCounter {
  const hookName = `faye-online-statement-counter-${++counters}`;
  let statements: string[] = [];
  sequelize.addHook('afterQuery', hookName, (_options: unknown, query: unknown) => {
    statements.push((query as { sql?: string }).sql ?? '');
  });
  return {
    get count() {
      return statements.length;
    },
    get statements() {
      return statements;
    },
    reset() {
      statements = [];
    },
    stop() {
      sequelize.removeHook('afterQuery', hookName);
    },
  };
}
