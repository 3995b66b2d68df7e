// Vite bundles imported stylesheets; TypeScript only needs to know they are modules.
declare module '*.css';
