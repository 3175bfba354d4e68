"""The customer's satisfaction survey page (`/survey/{number}?token=`), no login."""
