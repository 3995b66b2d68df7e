import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { takeShareLink } from './api.js';
import { App } from './app.js';
import './styles.css';

takeShareLink();
const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
