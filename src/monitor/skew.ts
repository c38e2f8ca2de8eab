/**
 * Train/serve skew, pure: whether the inputs the champion is served are built the way its training rows were, as
 * opposed to drift (valid values whose distribution moved). Two figures per field the model reads, from the
 * training version's statistics and the window's request profiles:
 *
 * - completeness gap: |share of training rows with the field − share of requests with it|. A client that stops
 *   sending a field, renames it or sends a number where text was, shows here at once (the model then sees an
 *   empty feature on every request, which drift on the values that do arrive cannot show).
 * - unseen categories: share of a categorical field's served values that never occurred in training (a new code,
 *   a changed encoding such as `EMAIL` for `email`, or a value the gateway logged as `__other__`). Judged only
 *   when training's category counts are exact and complete (no purged or rare values left out), so a value that
 *   was merely rare in training is never taken for a new one.
 */
import type { VersionStats } from '../quality/stats';
import type { MonitorSkewFigure } from '../shared/types';

/** The fields a served model reads. */
export interface SkewFields {
  textFields: readonly string[];
  categoricalFields: readonly string[];
}

/** Skew figures of the fields the model reads (training statistics vs the window's served profiles), by field. */
export function trainServeSkew(trained: VersionStats, served: VersionStats, fields: SkewFields): MonitorSkewFigure[] {
  if (served.rows === 0) return [];
  const out: MonitorSkewFigure[] = [];
  for (const feature of [...fields.textFields, ...fields.categoricalFields]) {
    const t = trained.features[feature];
    const s = served.features[feature];
    if (t === undefined || s === undefined) continue;
    const completenessGap = Math.abs(t.completeness - s.completeness);
    const figure: MonitorSkewFigure = { feature, completenessGap, value: completenessGap };
    const known = t.categories;
    const seen = s.categories;
    // Served values outside the window's own top list are not named, so they are left out of both sides.
    const named = seen ? seen.count - seen.other : 0;
    // Categorical fields only: text fields have no category counts on either side.
    if (known?.exact && known.other === 0 && named > 0) {
      const values = new Set(known.top.map((c) => c.value));
      const unseen = seen!.top.filter((c) => !values.has(c.value)).reduce((a, c) => a + c.count, 0);
      figure.unseenCategoryRate = unseen / named;
      figure.value = Math.max(completenessGap, figure.unseenCategoryRate);
    }
    out.push(figure);
  }
  return out;
}
