// The zod value of a CIDR list (trusted proxies, key and rule networks): each entry checked, compiled later.
import { z } from 'zod';
import { compileCidrs, CidrError } from '../request/client-ip.js';

/** A list of CIDRs, each checked and compiled later into a CidrSet. */
export const cidrList = z.array(z.string()).superRefine((list, ctx) => {
  list.forEach((entry, i) => {
    try {
      compileCidrs([entry]);
    } catch (e) {
      if (!(e instanceof CidrError)) throw e;
      ctx.addIssue({ code: 'custom', path: [i], message: e.message });
    }
  });
});
