// HTTP Basic authentication with one password, for `faye-online serve
// --dashboard-password`: a standalone server has no app session to ask, and
// Basic is what a browser can answer by itself. The user name is not checked.
// Use it behind HTTPS: Basic sends the password with every request.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Authorize } from '../reports/http';

export const MIN_PASSWORD_LENGTH = 12;

export function basicAuth(password: string, realm = 'faye-online'): { challenge: RequestHandler; authorize: Authorize } {
  const expected = digest(password);
  const authorize = (req: Request): boolean => {
    const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
    if (!match) return false;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    // Digests of equal length, compared in constant time: the answer's timing tells nothing about the password.
    return colon >= 0 && timingSafeEqual(digest(decoded.slice(colon + 1)), expected);
  };
  // Asks the browser for the password (401); the `authorize` hook then lets the request through.
  const challenge: RequestHandler = (req, res, next) => {
    if (authorize(req)) return next();
    res.status(401).set('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`).json({ error: 'the faye-online dashboard needs the password given to --dashboard-password' });
  };
  return { challenge, authorize };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
