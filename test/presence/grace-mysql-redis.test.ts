// needs: mysql, redis
import { graceScenarios } from './grace';

graceScenarios('mysql+redis');
