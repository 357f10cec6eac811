// needs: mysql, redis
import { diffScenarios } from './diffs';

diffScenarios('mysql+redis', 2);
