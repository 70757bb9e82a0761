/**
 * What a run was asked to do. Accepts what people actually type: nothing (the schedule, the UI's start button),
 * a bare date string (`temporal workflow start --input '"2026-02-12"'`) or an object.
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import { ENTRY_STEPS, isStepName, validateBatchDate, yesterdayInSeoul, type StepName } from '../shared/steps';

export type PipelineInput =
  | string
  | {
      batchDate?: string;
      /** Start at this step; earlier Spark steps are skipped after checking what the step needs exists. */
      fromStep?: StepName;
    }
  | undefined
  | null;

export interface ResolvedInput {
  batchDate: string;
  fromStep: StepName;
}

const scheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', 'DATETIME');

/** Fails the run at once, non-retryably, when the input makes no sense: nothing has been started yet. */
export function resolveInput(input: PipelineInput): ResolvedInput {
  const given = typeof input === 'string' ? { batchDate: input } : (input ?? {});
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw ApplicationFailure.nonRetryable(
      `input must be a date string "YYYY-MM-DD" or an object { batchDate, fromStep }, got ${JSON.stringify(input)}`,
      'InvalidInput',
    );
  }
  const batchDate = given.batchDate === undefined ? defaultBatchDate() : validateBatchDate(given.batchDate);
  if (typeof batchDate !== 'string')
    throw ApplicationFailure.nonRetryable(batchDate.error, 'InvalidBatchDate');

  const fromStep = given.fromStep ?? 'check_s3_input';
  if (!isStepName(fromStep) || !ENTRY_STEPS.includes(fromStep)) {
    throw ApplicationFailure.nonRetryable(
      `fromStep ${JSON.stringify(fromStep)} is not a step a run can start from; one of: ${ENTRY_STEPS.join(', ')}`,
      'InvalidInput',
    );
  }
  return { batchDate, fromStep };
}

/** Yesterday in Asia/Seoul, relative to the schedule's slot when a schedule started us (so a late or caught-up run
 * still processes the day it was scheduled for), else to the workflow's start. */
function defaultBatchDate(): string {
  const info = workflowInfo();
  const scheduled = info.typedSearchAttributes.get(scheduledStartTime);
  return yesterdayInSeoul(scheduled ?? info.startTime);
}
