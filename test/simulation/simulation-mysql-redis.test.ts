// needs: mysql, redis
// The simulation on the cluster backend: three processes sharing Redis and MariaDB, with crashes.
import { simulationSuite } from './suite';

simulationSuite('mysql-redis', 8);
