// needs: chromium, mysql, redis
// The dashboard on MariaDB and Redis.
import { dashboardSuite } from './dashboard';

dashboardSuite('mysql+redis');
