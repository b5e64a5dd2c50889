import { describe, expect, it } from 'vitest';
import { discoverImageEncoderLayout, ModelLayoutError, type GraphSpec, type TensorSpec } from '../../src/graphs/index.js';
import { exactError } from '../expect-error.js';

const pixels: TensorSpec = { name: 'pixel_values', dtype: 'FLOAT_32', shape: [1, 3, 64, 64] };
const q16 = (scale: number, offset: number) => ({ dtype: 'UFIXED_POINT_16' as const, encoding: { scale, offset } });

function encoder(outputs: TensorSpec[], inputs: TensorSpec[] = [pixels], name = 'image_encoder'): GraphSpec {
  return { name, ctxBin: 0, inputs, outputs };
}

function projector(input: TensorSpec, output: TensorSpec, name = 'image_projector'): GraphSpec {
  return { name, ctxBin: 1, inputs: [input], outputs: [output] };
}

const features: TensorSpec = { name: 'image_features', dtype: 'FLOAT_32', shape: [1, 16, 48] };
const embeds: TensorSpec = { name: 'image_embeds', dtype: 'FLOAT_32', shape: [1, 16, 64] };

describe('discoverImageEncoderLayout', () => {
  it('a fused encoder: its output is the rows', () => {
    const g = encoder([{ name: 'vision_embedding', ...q16(0.001, -30000), shape: [16, 64] }]);
    const layout = discoverImageEncoderLayout([g]);
    expect(layout.encoder).toBe(g);
    expect(layout.projector).toBeUndefined();
    expect(layout.pixelValues).toBe(pixels);
    expect(layout.output).toBe(g.outputs[0]);
    expect(layout.encoderOutput).toBe(g.outputs[0]);
    expect([layout.rows, layout.width]).toEqual([16, 64]);
    expect(layout.graphs).toEqual([g]);
  });

  it('encoder -> projector in either order of the list: the projector output (any name) is the rows', () => {
    const e = encoder([features]);
    // configs/fastvlm-0.5b names its projector's output vision_embedding, as Genie reads it.
    for (const graphs of [[e, projector(features, embeds)], [projector(features, embeds), e], [e, projector(features, { ...embeds, name: 'vision_embedding' })]]) {
      const p = graphs.find((g) => g !== e)!;
      const layout = discoverImageEncoderLayout(graphs);
      expect(layout.encoder).toBe(e);
      expect(layout.projector).toBe(p);
      expect(layout.encoderOutput).toBe(features);
      expect(layout.output).toBe(p.outputs[0]);
      expect([layout.rows, layout.width]).toEqual([16, 64]);
      expect(layout.graphs).toEqual([e, p]);
    }
  });

  it("accepts every optional input of Genie's image encoder, in any encoding", () => {
    const inputs: TensorSpec[] = [
      { name: 'position_ids_sin', dtype: 'FLOAT_16', shape: [16, 20] },
      pixels,
      { name: 'position_ids_cos', dtype: 'FLOAT_16', shape: [16, 20] },
      { name: 'full_attention_mask', ...q16(0.0007, -65535), shape: [1, 1, 16, 16] },
      { name: 'window_attention_mask', dtype: 'FLOAT_32', shape: [1, 1, 16, 16] },
    ];
    const layout = discoverImageEncoderLayout([encoder([features], inputs)]);
    expect(layout.inputs).toEqual(inputs);
    expect(layout.pixelValues).toBe(pixels);
  });

  const cases: Array<[string, GraphSpec[], string]> = [
    ['no graph', [], 'an image encoder needs at least one graph, found none'],
    ['no pixel_values', [projector(features, embeds)], 'no graph takes "pixel_values": an image encoder\'s graph must (graphs: "image_projector")'],
    [
      'two encoders',
      [encoder([features]), encoder([features], [pixels], 'other')],
      'graphs "image_encoder" and "other" both take "pixel_values": an image encoder has one encoder graph',
    ],
    [
      'unsupported input',
      [encoder([features], [pixels, { name: 'image_grid_thw', dtype: 'INT_32', shape: [1, 3] }])],
      'image encoder graph "image_encoder" has unsupported input "image_grid_thw" (Genie\'s image encoder accepts only pixel_values, position_ids_sin, position_ids_cos, full_attention_mask, window_attention_mask)',
    ],
    [
      'missing output',
      [encoder([{ name: 'last_hidden_state', dtype: 'FLOAT_32', shape: [1, 16, 48] }])],
      'image encoder graph "image_encoder" must output exactly one image_features* or vision_embedding* tensor, found 0 (outputs: "last_hidden_state")',
    ],
    [
      'two outputs',
      [encoder([features, { name: 'vision_embedding', dtype: 'FLOAT_32', shape: [16, 48] }])],
      'image encoder graph "image_encoder" must output exactly one image_features* or vision_embedding* tensor, found 2 (outputs: "image_features", "vision_embedding")',
    ],
    [
      'output shape',
      [encoder([{ name: 'image_features', dtype: 'FLOAT_32', shape: [2, 16, 48] }])],
      'output "image_features" [2, 16, 48] FLOAT_32 of graph "image_encoder" must be [1, N, D] or [N, D] (N image rows of D elements)',
    ],
    [
      'integer output',
      [encoder([{ name: 'image_features', dtype: 'INT_32', shape: [16, 48] }])],
      'output "image_features" [16, 48] INT_32 of graph "image_encoder" has dtype INT_32, not a float or fixed-point type',
    ],
    [
      'fixed point without encoding',
      [encoder([{ name: 'image_features', dtype: 'UFIXED_POINT_8', shape: [16, 48] }])],
      'output "image_features" [16, 48] UFIXED_POINT_8 of graph "image_encoder" is UFIXED_POINT_8 without an encoding',
    ],
    [
      'projector shape mismatch',
      [encoder([features]), projector({ ...features, shape: [1, 16, 32] }, embeds)],
      'projector graph "image_projector" input "image_features" [1, 16, 32] FLOAT_32 does not match image encoder graph "image_encoder" output "image_features" [1, 16, 48] FLOAT_32: the projector must take the encoder\'s output as it is',
    ],
    [
      'projector encoding mismatch',
      [encoder([{ ...features, ...q16(0.01, -100) }]), projector({ ...features, ...q16(0.01, -101) }, embeds)],
      'projector graph "image_projector" input "image_features" [1, 16, 48] UFIXED_POINT_16 scale=0.01 offset=-101 does not match image encoder graph "image_encoder" output "image_features" [1, 16, 48] UFIXED_POINT_16 scale=0.01 offset=-100: the projector must take the encoder\'s output as it is',
    ],
    [
      'projector of another tensor',
      [encoder([features]), projector({ ...features, name: 'image_features_2' }, embeds)],
      'graph "image_projector" does not take "pixel_values", so it must be the projector of image encoder graph "image_encoder": one input, its output "image_features" (inputs: "image_features_2")',
    ],
    [
      'projector rows',
      [encoder([features]), projector(features, { ...embeds, shape: [1, 8, 64] })],
      'projector graph "image_projector" output "image_embeds" [1, 8, 64] FLOAT_32 has 8 rows but image encoder graph "image_encoder" output "image_features" [1, 16, 48] FLOAT_32 has 16',
    ],
    [
      'projector with two outputs',
      [encoder([features]), { name: 'image_projector', ctxBin: 1, inputs: [features], outputs: [embeds, { ...embeds, name: 'extra' }] }],
      'projector graph "image_projector" must have exactly one output (the image rows), found 2',
    ],
    [
      'three graphs',
      [encoder([features]), projector(features, embeds), projector(features, embeds, 'second')],
      'an image encoder has at most one graph besides the encoder "image_encoder" (its projector), found 2: "image_projector", "second"',
    ],
  ];
  for (const [what, graphs, message] of cases) {
    it(`rejects ${what} with ModelLayoutError`, () => {
      expect(() => discoverImageEncoderLayout(graphs)).toThrow(exactError(ModelLayoutError, message));
    });
  }
});
