-- The IC-card number (cardSN) as the card component reported it at upload step 2, shown as
-- 卡號; the certificate's subject serialNumber is a holder identifier, not the card number.
ALTER TABLE bind_flows ADD COLUMN card_sn TEXT;
