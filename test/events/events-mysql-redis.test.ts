// needs: mysql, redis
import { eventScenarios } from './scenarios';

eventScenarios('mysql+redis');
