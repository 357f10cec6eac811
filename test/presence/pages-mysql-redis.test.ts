// needs: mysql, redis
import { clusterPagesScenario, pagedRoomScenario } from './pages';

pagedRoomScenario('mysql+redis', 2);
clusterPagesScenario();
