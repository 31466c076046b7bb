DROP TABLE merchant_rate_limits;
