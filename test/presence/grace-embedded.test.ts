import { graceScenarios } from './grace';

graceScenarios('sqlite+memory');
