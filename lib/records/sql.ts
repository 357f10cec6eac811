// The three statement shapes Records needs, with `?` replacements, answering
// the same way on MySQL/MariaDB and SQLite.
import { QueryTypes, type Sequelize } from 'sequelize';

/** A value for one `?`; an array fills an IN (?) list. */
export type SqlValue = string | number | null | ReadonlyArray<string | number>;

export class Sql {
  constructor(readonly sequelize: Sequelize) {}

  select<T extends object>(sql: string, params: SqlValue[]): Promise<T[]> {
    return this.sequelize.query<T>(sql, { replacements: params, type: QueryTypes.SELECT });
  }

  /** Runs an INSERT and returns the new row's id (0 for tables without one). */
  async insert(sql: string, params: SqlValue[]): Promise<number> {
    const [id] = await this.sequelize.query(sql, { replacements: params, type: QueryTypes.INSERT });
    return Number(id);
  }

  /** Runs an UPDATE or DELETE and returns the number of rows it changed. */
  async change(sql: string, params: SqlValue[]): Promise<number> {
    const affected = await this.sequelize.query(sql, { replacements: params, type: /^\s*delete/i.test(sql) ? QueryTypes.BULKDELETE : QueryTypes.BULKUPDATE });
    return Number(affected);
  }
}
