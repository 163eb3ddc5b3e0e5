// Sign in and sign up.

import { html, useState, Field, Problem, useAction } from '../ui.js';
import { signIn, signUp } from '../api.js';

function AuthForm({ mode, query }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [local, setLocal] = useState({});
  const [run, busy, error] = useAction(async () => {
    const problems = {};
    if (!/^[^@\s]+@[^@\s]+$/.test(email)) problems.email = 'enter an email address';
    if (mode === 'signup' && password.length < 12) problems.password = 'at least 12 characters';
    if (!password) problems.password = 'enter your password';
    setLocal(problems);
    if (Object.keys(problems).length) return;
    if (mode === 'signup') await signUp(email.trim(), password);
    else await signIn(email.trim(), password);
    location.hash = query.get('next') || '#/';
  });
  const signup = mode === 'signup';
  return html`<section class="auth card">
    <h1>${signup ? 'Create your account' : 'Sign in to Stratus'}</h1>
    ${query.get('expired') && html`<p class="notice" role="status">Your session ended. Sign in again to continue.</p>`}
    <form novalidate onSubmit=${(e) => { e.preventDefault(); run(); }}>
      <${Field} label="Email" name="email" type="email" autocomplete="username" value=${email} onInput=${setEmail} error=${error} local=${local} required />
      <${Field} label="Password" name="password" type="password" autocomplete=${signup ? 'new-password' : 'current-password'}
        value=${password} onInput=${setPassword} error=${error} local=${local} hint=${signup ? 'At least 12 characters.' : undefined} required />
      <${Problem} error=${error} />
      <button type="submit" class="primary" disabled=${busy}>${signup ? 'Sign up' : 'Sign in'}</button>
    </form>
    <p class="muted">${signup ? html`Have an account? <a href="#/signin">Sign in</a>` : html`New here? <a href="#/signup">Create an account</a>`}</p>
  </section>`;
}

export const SignIn = ({ query }) => html`<${AuthForm} mode="signin" query=${query} />`;
export const SignUp = ({ query }) => html`<${AuthForm} mode="signup" query=${query} />`;
