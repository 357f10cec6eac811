// needs: mysql, redis
import { lifecycleScenarios } from './lifecycle';

lifecycleScenarios('mysql+redis');
