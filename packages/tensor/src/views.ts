/**
 * Function forms of the Tensor methods that change shape or layout, so that every op has a
 * function (as autograd's ops do) and pipelines read the same in both packages. Each one only
 * calls the method: views share storage exactly as the method documents.
 */
import { checkDType, type DType } from './dtype.js';
import { checkTensor, type SliceSpec, type Tensor } from './tensor.js';

const tensorArg = (op: string, t: unknown): Tensor => checkTensor(op, t, 't');

/** `t.reshape(shape)`: a view when `t` is contiguous, else a copy; one axis may be −1. */
export const reshape = (t: Tensor, shape: readonly number[]): Tensor => tensorArg('reshape', t).reshape(shape);
/** `t.transpose(axis0, axis1)`: a view with two axes swapped (default the last two). */
export const transpose = (t: Tensor, axis0 = -2, axis1 = -1): Tensor =>
  tensorArg('transpose', t).transpose(axis0, axis1);
/** `t.permute(axes)`: a view with the axes reordered. */
export const permute = (t: Tensor, axes: readonly number[]): Tensor => tensorArg('permute', t).permute(axes);
/** `t.slice(...specs)`: a view of a strided window (see `SliceSpec`). */
export const slice = (t: Tensor, ...specs: SliceSpec[]): Tensor => tensorArg('slice', t).slice(...specs);
/** `t.expand(shape)`: a broadcast view (stride 0 along the expanded axes). */
export const expand = (t: Tensor, shape: readonly number[]): Tensor => tensorArg('expand', t).expand(shape);
/** `t.squeeze(axes)`: a view without the given size-1 axes (all of them when omitted). */
export const squeeze = (t: Tensor, axes?: number | readonly number[]): Tensor => tensorArg('squeeze', t).squeeze(axes);
/** `t.unsqueeze(axis)`: a view with a new size-1 axis at `axis`. */
export const unsqueeze = (t: Tensor, axis: number): Tensor => tensorArg('unsqueeze', t).unsqueeze(axis);
/** `t.flatten()`: the elements as one axis (a view when contiguous). */
export const flatten = (t: Tensor): Tensor => tensorArg('flatten', t).flatten();
/** `t.contiguous()`: `t` itself when C-contiguous, else a C-contiguous copy. */
export const contiguous = (t: Tensor): Tensor => tensorArg('contiguous', t).contiguous();
/** `t.clone()`: a C-contiguous copy that shares nothing with `t`. */
export const clone = (t: Tensor): Tensor => tensorArg('clone', t).clone();
/** `t.astype(dtype)`: a copy converted to `dtype` (autograd's differentiable form is `cast`). */
export const cast = (t: Tensor, dtype: DType): Tensor => tensorArg('cast', t).astype(checkDType('cast', dtype));
