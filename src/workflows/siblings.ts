/**
 * Steps that run side by side and succeed or fail together (download_code ∥ install_deps).
 *
 * Promise.all would let the other step run on (and retry, and bring the cluster up again through its
 * ensure-running check) while the cleanup stops the cluster. Here, when one fails, the others are cancelled, and
 * the failure goes on only once every one of them has finished: no cluster step is in flight during the cleanup.
 */
import { CancellationScope, isCancellation } from '@temporalio/workflow';

export async function allOrCancelSiblings(steps: (() => Promise<unknown>)[]): Promise<void> {
  const scope = new CancellationScope();
  const settled = await scope.run(() =>
    Promise.allSettled(
      steps.map((step) =>
        step().catch((err: unknown) => {
          scope.cancel();
          throw err;
        }),
      ),
    ),
  );
  const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  // The step that failed first explains the run; the siblings' cancellations follow from it.
  const cause = failures.find((f) => !isCancellation(f)) ?? failures[0];
  if (cause !== undefined) throw cause;
}
