import type { RequestHandler } from 'express';
import type { FerryMetrics } from '../src/metrics';

/** Counts and times every request by its route pattern (never the raw path: ids would explode the label set). */
export function httpMetrics(metrics: FerryMetrics): RequestHandler {
  return (req, res, next) => {
    const end = metrics.httpDuration.startTimer();
    res.once('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : '(unmatched)';
      const labels = { method: req.method, route, status: String(res.statusCode) };
      metrics.httpRequests.inc(labels);
      end(labels);
    });
    next();
  };
}
