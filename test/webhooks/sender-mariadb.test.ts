// needs: mysql
// The webhook sender on MariaDB (sender-suite.ts).
import { createMariadbBackend } from '../support/databases';
import { senderSuite } from './sender-suite';

senderSuite('webhook sender on MariaDB', () => createMariadbBackend('wh'));
