import { eventScenarios } from './scenarios';

eventScenarios('sqlite+memory');
