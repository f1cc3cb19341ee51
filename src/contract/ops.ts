import { z } from 'zod';

export const Health = z.object({ status: z.literal('ok') }).describe('Up');
export type Health = z.infer<typeof Health>;

export const Ready = z.object({ status: z.literal('ready') }).describe('Ready');
export type Ready = z.infer<typeof Ready>;
