"""CRM connectors: the SQL database, Salesforce and HubSpot behind one interface (crm/connector.py).

Used by extract (the day's snapshot) and publish (the push); never touches the lake.
"""
