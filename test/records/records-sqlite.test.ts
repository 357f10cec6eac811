// Records on an SQLite file (the embedded default): the shared suite (records-suite.ts).
import { createSqliteBackend } from '../support/databases';
import { recordsSuite } from './records-suite';

recordsSuite('Records on SQLite', () => createSqliteBackend());
