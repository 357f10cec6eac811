// needs: mysql, redis
import { diffScenarios, diffsOffScenario } from './diffs';

diffScenarios('mysql+redis', 2);
diffsOffScenario('mysql+redis');
