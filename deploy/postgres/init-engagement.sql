-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d), as the
-- POSTGRES_USER, after it created the Airflow metadata database POSTGRES_DB.
-- The warehouse the pipeline publishes scores to (connection engagement_warehouse).
CREATE DATABASE engagement_warehouse;
-- The sample CRM (connection engagement_crm), seeded by airflow-init on first start.
CREATE DATABASE engagement_crm;
