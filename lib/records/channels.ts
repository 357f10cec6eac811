// faye_channels: one row per channel name, found or created on first use and
// then remembered for the life of the process (ids never change).
//
// The table is MyISAM, so there are no transactions to lean on; the unique
// index on `name` is what makes concurrent first uses end with one row: every
// process tries the INSERT, the losers get a duplicate-key error and read the
// winner's id.
import { UniqueConstraintError } from 'sequelize';
import { formatDateTime } from './legacy-format';
import type { Sql } from './sql';

export class ChannelIds {
  private readonly sql: Sql;
  private readonly cache = new Map<string, Promise<number>>();

  constructor(sql: Sql) {
    this.sql = sql;
  }

  /** The id of channel `name` (stripped, as the gem does), created if new. */
  idOf(name: string): Promise<number> {
    const key = name.trim();
    let id = this.cache.get(key);
    if (!id) {
      id = this.findOrCreate(key);
      // A failure (database down) must not be remembered.
      id.catch(() => this.cache.delete(key));
      this.cache.set(key, id);
    }
    return id;
  }

  /**
   * The id of channel `name` if it exists, without creating it: reads must not
   * write (a public page asking about made-up rooms would otherwise grow the
   * table). A missing channel is not remembered, so that it is found once created.
   */
  async existingIdOf(name: string): Promise<number | null> {
    const key = name.trim();
    const cached = this.cache.get(key);
    if (cached) return cached;
    const id = await this.find(key);
    if (id !== null && !this.cache.has(key)) this.cache.set(key, Promise.resolve(id));
    return id;
  }

  private async findOrCreate(name: string): Promise<number> {
    const existing = await this.find(name);
    if (existing !== null) return existing;
    const now = formatDateTime(new Date());
    try {
      return await this.sql.insert('INSERT INTO faye_channels (name, created_at, updated_at) VALUES (?, ?, ?)', [name, now, now]);
    } catch (error) {
      if (!(error instanceof UniqueConstraintError)) throw error;
      const winner = await this.find(name);
      if (winner === null) throw error;
      return winner;
    }
  }

  private async find(name: string): Promise<number | null> {
    const [row] = await this.sql.select<{ id: number }>('SELECT id FROM faye_channels WHERE name = ?', [name]);
    return row ? Number(row.id) : null;
  }
}
