import { lifecycleScenarios } from './lifecycle';

lifecycleScenarios('sqlite+memory');
