import { z } from 'zod';
import { Int, Timestamp } from './common.js';

export const Receipt = z.object({
  id: Int,
  vendor: z.string(),
  amount: z.number(),
  currency: z.string().describe('ISO 4217'),
  issued_at: Timestamp,
  created_at: Timestamp,
}).describe('A receipt');
export type Receipt = z.infer<typeof Receipt>;
