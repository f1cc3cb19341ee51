-- Each business's language for server messages and the dashboard (API.md "Channels, locale, call
-- flows"). Businesses that existed before spoke English; new ones take DEFAULT_LOCALE (he).
ALTER TABLE businesses ADD COLUMN locale text NOT NULL DEFAULT 'en' CHECK (locale IN ('he', 'en'));
ALTER TABLE businesses ALTER COLUMN locale SET DEFAULT 'he';
ALTER TABLE businesses ALTER COLUMN default_country SET DEFAULT 'IL';
ALTER TABLE businesses ALTER COLUMN timezone SET DEFAULT 'Asia/Jerusalem';
