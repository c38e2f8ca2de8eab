/** The run report's loss curve: drawn from the model version's experiment record, absent without one. */
import { describe, expect, it } from 'vitest';
import { renderRunReportHtml, renderRunReportMarkdown, type RunReportInput } from '../../src/reports/run-report';
import type { ModelVersion } from '../../src/registry';
import type { ExperimentRecord, PipelineStatus } from '../../src/shared/types';

const status = {
  dataset: 'tickets',
  logicalDate: '2026-01-02',
  stage: 'done',
  modelVersion: { modelVersionId: 'mv-7', version: 7 },
  canary: [],
  outcome: 'promoted',
} as unknown as PipelineStatus;

const experiment: ExperimentRecord = {
  hyperparameters: { lr: 0.01 },
  trainer: { backend: 'process', identity: '/usr/bin/python3 train.py', digest: 'f'.repeat(64) },
  epochs: [
    { epoch: 3, loss: 0.9, metrics: { valAccuracy: 0.6 } },
    { epoch: 1, loss: 1.6 },
    { epoch: 2, loss: 1.2 },
    { epoch: 4, metrics: { valAccuracy: 0.7 } }, // no loss reported: not a point
    { epoch: 5, loss: 0.4 },
  ],
  gpus: 1,
  devices: ['0'],
  gpuSeconds: 12,
  wallSeconds: 12.5,
  resumedFromEpoch: 2,
};

const input = (x: ExperimentRecord | null | undefined): RunReportInput => ({
  workflowId: 'retrain-tickets-2026-01-02',
  runId: 'run-1',
  status,
  finishedAt: '2026-01-03T00:00:00.000Z',
  ...(x === undefined ? {} : { experiment: x }),
});

/** The loss chart's <svg> element, or undefined. */
const lossChart = (html: string): string | undefined => /<svg[^>]*aria-label="training loss per epoch".*?<\/svg>/s.exec(html)?.[0];

describe('run report loss curve', () => {
  it('plots the loss per epoch as a polyline in epoch order, with labelled axes and their ranges', () => {
    const html = renderRunReportHtml(input(experiment));
    expect(html).toContain('<h2>Training loss</h2>');
    expect(html).toContain('the finishing attempt resumed from epoch 2');
    const svg = lossChart(html);
    expect(svg).toBeDefined();
    const points = /<polyline points="([^"]+)"/
      .exec(svg!)![1]!
      .split(' ')
      .map((p) => p.split(',').map(Number) as [number, number]);
    expect(points).toHaveLength(4); // epochs 1, 2, 3, 5: epoch 4 reported no loss
    const xs = points.map(([x]) => x);
    const ys = points.map(([, y]) => y);
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
    // Loss falls epoch by epoch, so the line goes down on screen (SVG y grows downwards).
    expect(ys).toEqual([...ys].sort((a, b) => a - b));
    expect(new Set(ys).size).toBe(4);
    // x is proportional to the epoch: epoch 3 halfway between epochs 1 and 5.
    expect(xs[2]).toBeCloseTo((xs[0]! + xs[3]!) / 2, 1);
    for (const label of ['>1<', '>5<', '>1.6<', '>0<']) expect(svg).toContain(label);
    expect(svg).toContain('class="axis-label">epoch (training passes over the data)</text>');
    expect(svg).toMatch(/class="axis-label" transform="rotate\(-90[^"]*"\>loss \(unitless\)<\/text>/);
    expect(svg).toMatch(/<g class="legend"><line [^>]*class="series-loss"\/><text [^>]*>training loss, as the trainer reports it<\/text>/);
    expect(svg).toMatch(/<polyline points="[^"]+" class="series-loss"\/>/);
    expect(svg).toContain('<title>epoch 5: loss 0.4</title>');
  });

  it('lists the loss per epoch in the Markdown summary', () => {
    const md = renderRunReportMarkdown(input(experiment));
    expect(md).toContain('## Training loss\n\n| epoch | loss |\n| ---: | ---: |\n| 1 | 1.6 |\n| 2 | 1.2 |\n| 3 | 0.9 |\n| 5 | 0.4 |\n');
  });

  it('takes the record as the registry reads it back (devices optional)', () => {
    const stored: NonNullable<ModelVersion['experiment']> = { ...experiment, devices: undefined };
    expect(lossChart(renderRunReportHtml({ ...input(undefined), experiment: stored }))).toContain('<polyline');
  });

  it('draws a single epoch as one point', () => {
    const svg = lossChart(renderRunReportHtml(input({ ...experiment, epochs: [{ epoch: 1, loss: 0.7 }] })));
    expect(/<polyline points="([^"]+)"/.exec(svg!)![1]!.split(' ')).toHaveLength(1);
    expect(svg).not.toContain('NaN');
  });

  it.each([
    ['no experiment record', undefined],
    ['a null experiment record', null],
    ['an experiment without any loss reported', { ...experiment, epochs: [{ epoch: 1, metrics: { valAccuracy: 0.5 } }] }],
  ])('has no loss curve for %s', (_, x) => {
    const html = renderRunReportHtml(input(x));
    expect(lossChart(html)).toBeUndefined();
    expect(html).not.toContain('Training loss');
    expect(renderRunReportMarkdown(input(x))).not.toContain('Training loss');
  });
});
