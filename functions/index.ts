import { app } from '@azure/functions';
import { allFunctions, appSetup } from './all';

/**
 * The package's main entry: registers every function with the v4 programming model. Outside the
 * Functions host the library runs in test mode and skips registration, so tests and local/ import
 * functions/all.ts instead.
 */
app.setup(appSetup);
for (const fn of allFunctions) {
  // HTTP handlers come wrapped in answerThrows (functions/all.ts): with HTTP streams on, a handler
  // that throws would otherwise leave its caller without any answer.
  if (fn.kind === 'http') app.http(fn.name, fn.options);
  else if (fn.kind === 'timer') app.timer(fn.name, fn.options);
  else app.serviceBusQueue(fn.name, fn.options);
}
