// needs: mysql, redis
import { securityScenarios } from './edge';

securityScenarios('mysql+redis');
