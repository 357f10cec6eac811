// needs: mysql, redis
import { presenceScenarios } from './scenarios';

presenceScenarios('mysql+redis');
