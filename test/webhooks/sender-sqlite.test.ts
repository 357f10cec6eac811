// The webhook sender on the embedded SQLite database (sender-suite.ts).
import { createSqliteBackend } from '../support/databases';
import { senderSuite } from './sender-suite';

senderSuite('webhook sender on SQLite', () => createSqliteBackend());
