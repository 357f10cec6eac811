// needs: mysql
// Records on MariaDB: the shared suite (records-suite.ts).
import { createMariadbBackend } from '../support/databases';
import { recordsSuite } from './records-suite';

recordsSuite('Records on MariaDB', () => createMariadbBackend('rec'));
