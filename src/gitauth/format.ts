/** Credentials in the shape each git host expects (coderd gitauth formatting). */
export interface GitCredentials {
  username: string;
  password: string;
  url: string;
}

export function formatCredentials(providerType: string, token: string): GitCredentials {
  switch (providerType) {
    case 'gitlab':
      return { username: 'oauth2', password: token, url: '' };
    case 'bitbucket':
      return { username: 'x-token-auth', password: token, url: '' };
    default:
      // GitHub, Azure DevOps and others take the token as the username.
      return { username: token, password: '', url: '' };
  }
}

/** The last provider whose regex matches wins, as coderd's loop does not break. */
export function matchProvider<T extends { regex: string }>(providers: T[], url: string): T | undefined {
  let match: T | undefined;
  for (const p of providers) {
    try {
      if (new RegExp(p.regex).test(url)) match = p;
    } catch {
      // An invalid regex never matches; providers are validated on insert.
    }
  }
  return match;
}
