// needs: mysql, redis
import { wildcardScenarios } from './adversarial-wildcards';

wildcardScenarios('mysql+redis');
