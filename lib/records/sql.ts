// The three statement shapes Records needs, with `?` replacements, answering
// the same way on MySQL/MariaDB and SQLite.
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';

/** A value for one `?`; an array fills an IN (?) list. */
export type SqlValue = string | number | null | ReadonlyArray<string | number>;

export class Sql {
  /** `transaction`: every statement runs in it. */
  constructor(readonly sequelize: Sequelize, private readonly transaction?: Transaction) {}

  /** The same statements, run in `transaction`. */
  within(transaction: Transaction | undefined): Sql {
    return transaction ? new Sql(this.sequelize, transaction) : this;
  }

  select<T extends object>(sql: string, params: SqlValue[]): Promise<T[]> {
    return this.sequelize.query<T>(sql, { replacements: params, type: QueryTypes.SELECT, transaction: this.transaction });
  }

  /** Runs an INSERT and returns the new row's id (0 for tables without one). */
  async insert(sql: string, params: SqlValue[]): Promise<number> {
    const [id] = await this.sequelize.query(sql, { replacements: params, type: QueryTypes.INSERT, transaction: this.transaction });
    return Number(id);
  }

  /** Runs an UPDATE or DELETE and returns the number of rows it changed. */
  async change(sql: string, params: SqlValue[]): Promise<number> {
    const affected = await this.sequelize.query(sql, { replacements: params, type: /^\s*delete/i.test(sql) ? QueryTypes.BULKDELETE : QueryTypes.BULKUPDATE, transaction: this.transaction });
    return Number(affected);
  }
}

/**
 * Runs `work` in a transaction, so that its statements take effect together or
 * not at all, and the rows they change stay locked against other writers until
 * the end. An in-memory SQLite database shares one connection (no second
 * transaction could start beside a first) and dies with the process, so there
 * nothing else writes between the statements and `work` runs as is.
 */
export async function atomically<T>(sequelize: Sequelize, work: (transaction: Transaction | undefined) => Promise<T>): Promise<T> {
  const storage = (sequelize as unknown as { options: { storage?: string } }).options.storage;
  if (sequelize.getDialect() === 'sqlite' && (storage === undefined || storage === ':memory:')) return work(undefined);
  return sequelize.transaction((transaction) => work(transaction));
}
