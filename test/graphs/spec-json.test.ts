import { describe, expect, it } from 'vitest';
import { GraphSpecJsonError, graphSpecsToJson, parseGraphSpecsJson } from '../../src/graphs/spec-json.js';
import { bundle } from './fixtures.js';

const PATH = '/x/model.inspect.json';

function expectError(text: string, message: string | RegExp): void {
  let thrown: unknown;
  try {
    parseGraphSpecsJson(text, PATH);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(GraphSpecJsonError);
  if (typeof message === 'string') expect((thrown as Error).message).toBe(message);
  else expect((thrown as Error).message).toMatch(message);
}

describe('graph specs as JSON', () => {
  it('round-trips a split, quantized bundle exactly, through text, beside other top-level keys', () => {
    const { graphs } = bundle({ ars: [1, 32], cls: [256], splits: 3, embeddingPart: true });
    const text = JSON.stringify({ format: 'other', graphs: graphSpecsToJson(graphs), plan: { bytes: 1 } });
    const back = parseGraphSpecsJson(text, PATH);
    expect(back).toEqual(graphs);
    // Encodings survive only where the spec has one (a float tensor gets no `encoding` key).
    const flat = back.flatMap((g) => [...g.inputs, ...g.outputs]);
    const original = graphs.flatMap((g) => [...g.inputs, ...g.outputs]);
    expect(flat.map((t) => 'encoding' in t)).toEqual(original.map((t) => t.encoding !== undefined));
  });

  it('gives fresh values: changing the JSON does not change the specs', () => {
    const { graphs } = bundle({ ars: [1], cls: [64] });
    const json = graphSpecsToJson(graphs);
    json[0].inputs[0].shape[0] = 99;
    expect(graphs[0].inputs[0].shape[0]).not.toBe(99);
  });

  it('names the file and the JSON path of the first problem', () => {
    const { graphs } = bundle({ ars: [1], cls: [64] });
    const good = graphSpecsToJson(graphs);
    const edit = (change: (doc: { graphs: any[] }) => void): string => {
      const doc = JSON.parse(JSON.stringify({ graphs: good }));
      change(doc);
      return JSON.stringify(doc);
    };
    expectError('{"graphs": [', `${PATH} is not valid JSON: ${jsonSyntaxMessage('{"graphs": [')}`);
    expectError('[]', `${PATH}: key (top level): Invalid input: expected object, received array`);
    expectError('{}', `${PATH}: key graphs: Invalid input: expected array, received undefined`);
    expectError('{"graphs": []}', `${PATH}: key graphs: Too small: expected array to have >=1 items`);
    expectError(edit((d) => (d.graphs[0].inputs[1].shape[2] = 0)), `${PATH}: key graphs[0].inputs[1].shape[2]: Too small: expected number to be >0`);
    expectError(edit((d) => (d.graphs[0].inputs[0].dtype = 'FLOAT_64')), /^\/x\/model\.inspect\.json: key graphs\[0\]\.inputs\[0\]\.dtype: Invalid option: expected one of .*"UFIXED_POINT_16"/);
    expectError(edit((d) => (d.graphs[0].outputs[0].extra = 1)), `${PATH}: key graphs[0].outputs[0]: Unrecognized key: "extra"`);
    expectError(edit((d) => (d.graphs[0].ctxBin = -1)), `${PATH}: key graphs[0].ctxBin: Too small: expected number to be >=0`);
    expectError(
      edit((d) => d.graphs.push(d.graphs[0])),
      `${PATH}: key graphs[${good.length}].name: graph "${good[0].name}" is listed twice (first at graphs[0])`,
    );
  });
});

function jsonSyntaxMessage(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('valid JSON');
}
