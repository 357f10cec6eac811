import { presenceScenarios } from './scenarios';

presenceScenarios('sqlite+memory');
