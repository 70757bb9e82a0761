/** What the doctor says about an AWS error that is about credentials or permissions rather than the system. */

const DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'AuthFailure',
  'InvalidAccessKeyId',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'CredentialsProviderError',
]);

/** The AWS error's name when it says the credentials are missing, wrong or not allowed; else undefined. */
export function credentialProblem(err: unknown): string | undefined {
  const name = (err as { name?: string } | undefined)?.name ?? '';
  return DENIED.has(name) ? name : undefined;
}

/** An AWS error message, shortened: UnauthorizedOperation carries a long encoded policy blob. */
export function shortAwsMessage(err: unknown): string {
  const e = err as { name?: string; message?: string };
  const message = (e.message ?? String(err)).replace(/\s*Encoded authorization failure message:.*$/s, '');
  const text = e.name && !message.startsWith(e.name) ? `${e.name}: ${message}` : message;
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

export const CREDENTIALS_FIX =
  'give this machine AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, an instance profile or ~/.aws) ' +
  'with the permissions listed in the README (Pointing it at real AWS)';
